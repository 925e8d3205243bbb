"""The audio shell."""
