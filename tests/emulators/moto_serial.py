"""Runs moto's S3 server like `moto_server -H HOST -p PORT`, but serving one request at a time.

moto_server serves requests on threads, and moto does not lock a conditional PUT's check and write together, so two
racing create-only writes (If-None-Match: *) can both succeed — a race real S3 does not have. Served one request at a
time (werkzeug then also speaks HTTP/1.0, so no idle keep-alive connection blocks the others), every conditional write
is atomic, as on S3. The tests start this instead of moto_server.
"""
import argparse
import os
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, app, threaded=False, use_reloader=False)


if __name__ == "__main__":
    main()
