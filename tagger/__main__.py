from tagger.cli import run

run()
