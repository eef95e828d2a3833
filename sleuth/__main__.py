from sleuth.cli.main import run

run()
