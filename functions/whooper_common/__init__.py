"""Code that two or more Whooper functions share: configuration, logging, metrics, the HTTP door."""
