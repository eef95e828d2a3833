from sleuth.cli import app

app()
