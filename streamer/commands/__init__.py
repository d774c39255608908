"""One module per `streamer` subcommand: argument parsing and wiring only, no algorithms."""
