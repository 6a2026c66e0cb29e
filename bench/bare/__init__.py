"""The bare functions-framework baseline: a handler that does nothing but answer."""
