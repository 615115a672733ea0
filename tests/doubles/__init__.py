"""Test doubles (stand-ins for services the tests cannot have, named as such)."""
