"""``spikevision play``: a local web page to draw a digit on and watch it become spikes inside a trained network.

- ``runs``: the runs a server was given, found in a directory and loaded on first use;
- ``look``: one picture and a coding -> what the page draws (the same ``inference.trace`` as ``predict``);
- ``server``: the Starlette app (the page, ``/api/runs``, ``/api/look``) and serving it with uvicorn;
- ``drawn_network``: the network used when no run is named, trained on first use and kept in the cache;
- ``static/``: the page itself (HTML, CSS and JavaScript of its own: nothing is fetched from the internet).
"""
