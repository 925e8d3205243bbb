from vamp_cli.cli import main

main()
