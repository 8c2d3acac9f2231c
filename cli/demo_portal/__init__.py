"""The offline demo: a small replica county portal served on 127.0.0.1."""
