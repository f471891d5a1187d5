"""spikevision: images -> spike trains -> spiking networks of LIF neurons -> metrics and pictures.

Importing spikevision before torch gives a Python script the thread policy the commands have
(``spikevision.threads``: on a machine that other work keeps busy, threads that sleep when idle, on the free
cores); a script that imported torch first, or set a thread variable, keeps torch's own choice.
"""

__version__ = "0.1.0"


def _thread_policy() -> None:
    import sys

    if "torch" not in sys.modules:  # torch's pools read their settings once, when torch loads
        from spikevision import threads

        threads.AT_IMPORT.update(threads.apply())


_thread_policy()
