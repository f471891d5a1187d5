"""`python -m spikevision ...` (and `torchrun -m spikevision ...`) run the command line."""

from spikevision.cli import main

raise SystemExit(main())
