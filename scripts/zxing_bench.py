#!/usr/bin/env python3
"""Decode labelled QR photographs with zxing-cpp, for comparison with badge-kiosk's scan bench.

Usage: python3 scripts/zxing_bench.py [--max-side 1280] [--per-file] DIR...

Needs `pip install zxing-cpp pillow`. Each image NAME.png|jpg|jpeg|webp|gif|bmp with a NAME.txt
beside it is decoded once; images without NAME.txt are counted as unlabelled and skipped, and
`*.result.txt` / `*.bin` metadata files are ignored. The figures follow the same rules as the Rust
bench (src/bench/decode.rs), so the two can be read side by side:

- Images whose long side exceeds --max-side are first downscaled (bilinear/triangle filter, sizes
  rounded half up) exactly as the Rust bench does: the kiosk camera delivers 1280x720.
- Only the decoder call is timed (not file loading or resizing): wall time, and the CPU time of
  the calling thread (cpu_median_ms), which does not grow when other programs compete for cores.
- "read": the expected text is among the decoded texts. Decoded texts that are not the expected
  one count as "misreads" on images where the expected text was not read (wrong output) and as
  "extra_codes" where it was also read (a second code in view); the strict count of "any other
  text" is the sum of both. When NAME.txt is valid UTF-8 texts are compared exactly as UTF-8 strings
  (trailing newlines included); otherwise the expected bytes are compared with the decoded payload
  bytes.

Prints one JSON document on stdout.
"""

import argparse
import json
import os
import statistics
import sys
import time

try:
    import zxingcpp
    from PIL import Image
except ImportError as missing:  # say what to do next instead of a bare traceback
    sys.exit(f"{missing}: install the comparison decoder with `pip install zxing-cpp pillow`")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def labelled_images(folder):
    """Yield (image path, expected bytes or None) in name order."""
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in IMAGE_EXTENSIONS:
            continue
        label = os.path.join(folder, stem + ".txt")
        expected = None
        if os.path.isfile(label):
            with open(label, "rb") as handle:
                expected = handle.read()
        yield os.path.join(folder, name), expected


def fit_long_side(image, max_side):
    width, height = image.size
    long_side = max(width, height)
    if max_side <= 0 or long_side <= max_side:
        return image
    scale = max_side / long_side
    size = (max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5)))
    return image.resize(size, Image.Resampling.BILINEAR)


def matches(barcode, expected):
    try:
        return barcode.text == expected.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(barcode.bytes) == expected


def percentile(sorted_values, fraction):
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * (len(sorted_values) - 1)))))
    return sorted_values[index]


def summarise(name, rows):
    times = sorted(row["ms"] for row in rows if row["ms"] is not None)
    cpu_times = sorted(row["cpu_ms"] for row in rows if row.get("cpu_ms") is not None)
    return {
        "folder": name,
        "images": len(rows),
        "read": sum(1 for row in rows if row["read"]),
        "misreads": sum(row["others"] for row in rows if not row["read"]),
        "extra_codes": sum(row["others"] for row in rows if row["read"]),
        "load_errors": sum(1 for row in rows if row["error"] and row["error"].startswith("load")),
        "decode_errors": sum(1 for row in rows if row["error"] and row["error"].startswith("decode")),
        "median_ms": round(statistics.median(times), 3) if times else 0.0,
        "p90_ms": round(percentile(times, 0.9), 3),
        "max_ms": round(times[-1], 3) if times else 0.0,
        "cpu_median_ms": round(statistics.median(cpu_times), 3) if cpu_times else 0.0,
    }


def bench_folder(folder, max_side, formats):
    rows, unlabelled = [], 0
    for path, expected in labelled_images(folder):
        if expected is None:
            unlabelled += 1
            continue
        row = {"file": os.path.basename(path), "read": False, "others": 0, "ms": None, "error": None, "texts": []}
        try:
            with Image.open(path) as opened:
                image = fit_long_side(opened.convert("RGB"), max_side)
        except Exception as error:  # a broken file is a figure, not a crash of the bench
            row["error"] = f"load: {error}"
            rows.append(row)
            continue
        cpu_start = time.thread_time()
        start = time.perf_counter()
        try:
            barcodes = zxingcpp.read_barcodes(image, formats=formats, text_mode=zxingcpp.TextMode.Plain)
        except Exception as error:
            row["error"] = f"decode: {error}"
            barcodes = []
        row["ms"] = (time.perf_counter() - start) * 1000.0
        row["cpu_ms"] = (time.thread_time() - cpu_start) * 1000.0
        for barcode in barcodes:
            row["texts"].append(barcode.text)
            if matches(barcode, expected):
                row["read"] = True
            else:
                row["others"] += 1
        rows.append(row)
    return rows, unlabelled


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="folders of NAME.<image> + NAME.txt pairs")
    parser.add_argument("--max-side", type=int, default=1280, help="downscale longer sides to this (0: never)")
    parser.add_argument("--per-file", action="store_true", help="include every file's outcome")
    args = parser.parse_args()

    formats = zxingcpp.BarcodeFormat.QRCode
    report = {
        "decoder": "zxing-cpp",
        "version": getattr(zxingcpp, "__version__", "unknown"),
        "max_side": args.max_side,
        "folders": [],
    }
    all_rows = []
    for folder in args.dirs:
        if not os.path.isdir(folder):
            sys.exit(f"{folder}: not a folder; pass folders that hold NAME.png + NAME.txt pairs")
        rows, unlabelled = bench_folder(folder, args.max_side, formats)
        summary = summarise(os.path.basename(os.path.normpath(folder)), rows)
        summary["unlabelled"] = unlabelled
        if args.per_file:
            summary["files"] = [
                {"file": r["file"], "read": r["read"], "others": r["others"],
                 "ms": None if r["ms"] is None else round(r["ms"], 3), "error": r["error"]}
                for r in rows
            ]
        report["folders"].append(summary)
        all_rows.extend(rows)
    report["total"] = summarise("total", all_rows)
    report["total"]["unlabelled"] = sum(f["unlabelled"] for f in report["folders"])
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
