#!/usr/bin/env python3
"""Enqueue a Nightshift job over HTTP, wait until it has finished, print its result.

Standard library only (Python 3.8+). Usage:

    NIGHTSHIFT_URL=http://127.0.0.1:8080 NIGHTSHIFT_API_TOKEN=... \
        python3 enqueue_and_wait.py email.welcome '{"userId": 42}'

Environment:
    NIGHTSHIFT_URL        where the API listens (default http://127.0.0.1:8080)
    NIGHTSHIFT_API_TOKEN  a bearer token with the `enqueue` scope (or `admin`); leave it unset
                          when the server has no tokens (it then listens on loopback only)

On success the job's result is printed to stdout as JSON and the exit code is 0. A job that ends
`dead` or `cancelled` exits 1 with its last error on stderr; an error answer of the API (unknown
job, invalid payload, bad token, ...) exits 2 with its code and message; a timeout exits 3.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FINAL_STATES = {"completed", "dead", "cancelled"}


class ApiError(Exception):
    """An error answer of the API: `{ "error": { "code", "message" } }` with an HTTP status."""

    def __init__(self, status, code, message):
        super().__init__(f"{code}: {message} (HTTP {status})")
        self.status = status
        self.code = code


def call(base_url, method, path, token=None, body=None):
    """One request to the API; returns the parsed JSON answer or raises ApiError."""
    headers = {"accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", errors="replace")
        try:
            details = json.loads(text)["error"]
            raise ApiError(error.code, details.get("code", "HTTP_ERROR"), details.get("message", text)) from None
        except (ValueError, KeyError, TypeError):
            raise ApiError(error.code, "HTTP_ERROR", text[:500]) from None


def enqueue(base_url, token, name, data, key=None):
    """POST /api/jobs; returns the job (201: inserted; 200: a job with the same key exists)."""
    body = {"name": name, "data": data}
    if key is not None:
        body["key"] = key
    return call(base_url, "POST", "/api/jobs", token, body)["job"]


def wait_until_finished(base_url, token, job_id, timeout_s):
    """Polls GET /api/jobs/:id, from every 0.1 s up to every 2 s, until the job is in a final state."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        job = call(base_url, "GET", "/api/jobs/" + urllib.parse.quote(job_id, safe=""), token)
        if job["state"] in FINAL_STATES:
            return job
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"job {job_id} is still {job['state']} after {timeout_s} s")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Enqueue a Nightshift job over HTTP and print its result.")
    parser.add_argument("name", help="the job's name, e.g. email.welcome")
    parser.add_argument("data", nargs="?", default="{}", help="the payload as JSON (default {})")
    parser.add_argument("--key", help="de-duplication key")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the job (default 300)")
    parser.add_argument("--url", default=os.environ.get("NIGHTSHIFT_URL", "http://127.0.0.1:8080"), help="API address (default $NIGHTSHIFT_URL)")
    args = parser.parse_args(argv)
    token = os.environ.get("NIGHTSHIFT_API_TOKEN") or None
    base_url = args.url.rstrip("/")
    try:
        data = json.loads(args.data)
    except ValueError as error:
        print(f"the payload is not JSON: {error}", file=sys.stderr)
        return 2

    try:
        job = enqueue(base_url, token, args.name, data, args.key)
        print(f"job {job['id']} ({job['name']}) is {job['state']}", file=sys.stderr)
        job = wait_until_finished(base_url, token, job["id"], args.timeout)
    except ApiError as error:
        print(error, file=sys.stderr)
        return 2
    except TimeoutError as error:
        print(error, file=sys.stderr)
        return 3
    except urllib.error.URLError as error:
        print(f"cannot reach {base_url}: {error.reason}", file=sys.stderr)
        return 2

    if job["state"] != "completed":
        last_error = job.get("lastError") or {}
        print(f"job {job['id']} ended {job['state']} after {job['attempt']} attempt(s): {last_error.get('message', 'no error recorded')}", file=sys.stderr)
        return 1
    print(json.dumps(job["result"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
