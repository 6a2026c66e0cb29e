"""pod_exporter: on a PingSource tick, lists pods and pushes pod-state gauges to the Pushgateway."""
