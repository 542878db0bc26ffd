#!/usr/bin/env python3
"""A terminal chat client for carpool-local's WebSocket (README, "Chat in real time").

Prints every frame the server sends; each line typed is sent as a frame. Lines that are not
JSON are sent as a message to --conversation, so two terminals can simply talk.

    python3 -m venv /tmp/ws && /tmp/ws/bin/pip install -q websockets
    /tmp/ws/bin/python infra/chat_client.py --cookie '__Host-session=<value>' --conversation <id>
"""

import argparse
import json
import sys
import threading
import time
import uuid

from websockets.sync.client import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:3000/ws")
    parser.add_argument("--cookie", required=True, help="__Host-session=<value> from sign-in")
    parser.add_argument("--conversation", help="where plain lines go")
    args = parser.parse_args()
    with connect(args.url, additional_headers={"Cookie": args.cookie}) as socket:
        threading.Thread(target=lambda: [print(frame, flush=True) for frame in socket], daemon=True).start()
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            if not line.startswith("{") and args.conversation:
                line = json.dumps({"action": "sendMessage", "conversationId": args.conversation,
                                   "body": line, "clientMessageId": str(uuid.uuid4())})
            socket.send(line)
        time.sleep(1)  # input ended: the last answers still print


if __name__ == "__main__":
    main()
