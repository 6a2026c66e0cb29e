"""``python -m devstack.kube_api --port P --pods N --token T``: serve generated pods until killed."""

import sys

from devstack.kube_api.cli import main

sys.exit(main())
