from sleuth.cli.main import app

app()
