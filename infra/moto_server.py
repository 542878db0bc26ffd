"""moto's server, one request at a time.

`moto_server` serves requests on many threads, and moto's DynamoDB does not lock an item while
it reads and updates it: concurrent `ADD`s lose updates and conditional writes can race, which
real DynamoDB never allows (every single-item write is atomic). Serving requests one at a time
restores that guarantee, so the concurrency tests test our conditions, not the emulator's races.

Usage: python infra/moto_server.py HOST PORT
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False)
