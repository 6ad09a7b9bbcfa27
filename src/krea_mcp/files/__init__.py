"""Local files, reached safely: paths typed by agents, descriptor-confined reads and writes, saving, previews."""
