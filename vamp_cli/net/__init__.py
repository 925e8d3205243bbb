"""The net shell."""
