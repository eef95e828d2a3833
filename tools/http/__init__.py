"""HTTP policy shared by every adapter that talks to a server: the one retry policy."""
