"""Signs a set of S3 requests the way boto3 does (botocore's own signers), for the Swift test
that checks fsdfs's Signature Version 4 verifier against a real client. Prints JSON."""
import json
import sys
from urllib.parse import quote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

access, secret, base = sys.argv[1], sys.argv[2], sys.argv[3]
credentials = Credentials(access, secret)
cases = [
    ("GET", "/bucket/" + quote("dir/key with spaces and \u00fc.txt"), {}, b"", False),
    ("PUT", "/bucket/new.bin", {"Content-Type": "application/octet-stream", "x-amz-meta-color": "  deep   blue "}, b"hello, world", False),
    ("GET", "/bucket?list-type=2&prefix=a%20b%2Bc&delimiter=%2F&max-keys=10", {}, b"", False),
    ("POST", "/bucket/big.bin?uploads", {}, b"", False),
    ("DELETE", "/bucket/big.bin?uploadId=abc%2Fdef~x", {}, b"", False),
    ("HEAD", "/bucket/a%2Bb/c", {"If-None-Match": '"0123"'}, b"", False),
    ("GET", "/bucket/" + quote("dir/file name+plus.txt"), {}, b"", True),
]
out = []
for method, path, headers, body, presign in cases:
    request = AWSRequest(method=method, url=base + path, headers=dict(headers), data=body)
    if presign:
        S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=900).add_auth(request)
    else:
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    out.append({"method": method, "url": prepared.url, "headers": [[k, v] for k, v in prepared.headers.items()]})
print(json.dumps(out))
