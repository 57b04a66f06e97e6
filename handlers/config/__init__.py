"""Configuration: the flag table, parsed once into one typed `Settings`."""
