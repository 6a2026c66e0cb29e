"""Real and stand-in parts that the tests, the demo and the benchmarks run against.

* :mod:`devstack.engine`: a container engine and the Prometheus stack images.
* :mod:`devstack.stack`: Prometheus, Alertmanager and Pushgateway containers.
* :mod:`devstack.smtp`: an SMTP server (aiosmtpd) that keeps every message.
* :mod:`devstack.kube_api`: a Kubernetes API server stand-in speaking the REST API.
* :mod:`devstack.gemini`: a Gemini API stand-in for ``generateContent``.
* :mod:`devstack.standin`: the HTTP plumbing both stand-ins share (recorded requests, faults, server).
* :mod:`devstack.receiver`: an HTTP server that records what is posted to it.
"""
