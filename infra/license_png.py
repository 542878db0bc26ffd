#!/usr/bin/env python3
"""Writes a stand-in license photo for carpool-local: a valid 1x1 PNG whose `tEXt` chunk
`AnalyzeID` holds a Textract AnalyzeID response for the given fields. carpool-local's OCR
stand-in reads it as if Textract had (API.md Local mode). Standard library only.

    python3 infra/license_png.py --first ALICE --last EXAMPLE --number D1234567 \\
        --expires 2027-06-30 > license.png

--confidence below 80 makes a field unreadable (the scan then answers needs_review)."""

import argparse
import json
import struct
import sys
import zlib


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def analyze_id(args) -> dict:
    def field(kind, text):
        value = {"Text": text, "Confidence": args.confidence}
        if kind == "EXPIRATION_DATE" and text:
            value["NormalizedValue"] = {"Value": f"{text}T00:00:00", "ValueType": "Date"}
        return {"Type": {"Text": kind}, "ValueDetection": value}

    fields = [
        field("FIRST_NAME", args.first),
        field("MIDDLE_NAME", args.middle),
        field("LAST_NAME", args.last),
        field("DOCUMENT_NUMBER", args.number),
        field("EXPIRATION_DATE", args.expires),
        field("ID_TYPE", "DRIVER LICENSE FRONT"),
    ]
    return {
        "IdentityDocuments": [{"DocumentIndex": 1, "IdentityDocumentFields": fields}],
        "DocumentMetadata": {"Pages": 1},
        "AnalyzeIDModelVersion": "1.0",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", required=True)
    parser.add_argument("--middle", default="")
    parser.add_argument("--last", required=True)
    parser.add_argument("--number", required=True)
    parser.add_argument("--expires", required=True, help="YYYY-MM-DD")
    parser.add_argument("--confidence", type=float, default=97.5)
    args = parser.parse_args()
    text = json.dumps(analyze_id(args)).encode("latin-1")
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixel = zlib.compress(b"\x00\x80")  # filter byte, one grey pixel
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"AnalyzeID\x00" + text)
        + chunk(b"IDAT", pixel)
        + chunk(b"IEND", b"")
    )
    sys.stdout.buffer.write(png)


if __name__ == "__main__":
    main()
