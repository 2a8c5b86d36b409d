"""``python -m carbonsink`` runs the command line."""

from carbonsink.cli import main

main()
