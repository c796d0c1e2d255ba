"""Drives fsdfs's S3 API with real clients: boto3 for every operation fsdfs serves, then the
AWS CLI (`s3 mb/cp/sync/ls/rm --recursive`, `s3api head-object`), then an aws-chunked
streaming upload signed chunk by chunk (no PyPI client sends one over plain HTTP).

Usage: s3_clients.py ENDPOINT ACCESS_KEY SECRET_KEY WORKDIR
Checks as it goes (an AssertionError or a client error fails it) and prints, as JSON, the
operations each client exercised."""
import datetime
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, access, secret, work = sys.argv[1:5]
config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 2})
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                  region_name="us-east-1", config=config)
exercised = {"boto3": [], "aws-cli": [], "hand-signed": []}


def did(client, operation):
    if operation not in exercised[client]:
        exercised[client].append(operation)


def error_code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("expected an error")


# A file put with `fsdfsd put` is an object of the bucket named by its top directory
assert "fromcli" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
assert s3.get_object(Bucket="fromcli", Key="hello.txt")["Body"].read() == b"put by fsdfsd\n"
assert len(s3.head_object(Bucket="fromcli", Key="hello.txt")["ETag"]) == 34

# Buckets
assert "data" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
s3.create_bucket(Bucket="data")
did("boto3", "CreateBucket")
assert "data" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
did("boto3", "ListBuckets")
s3.head_bucket(Bucket="data")
did("boto3", "HeadBucket")
assert error_code(lambda: s3.create_bucket(Bucket="data")) == ("BucketAlreadyOwnedByYou", 409)
assert error_code(lambda: s3.head_bucket(Bucket="absent-bucket"))[1] == 404
s3.create_bucket(Bucket="scratch")
s3.delete_bucket(Bucket="scratch")
did("boto3", "DeleteBucket")
assert "scratch" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

# PutObject, HeadObject, GetObject with metadata and content type
body = b"hello, fsdfs\n" * 100
put = s3.put_object(Bucket="data", Key="docs/readme.txt", Body=body, ContentType="text/plain",
                    Metadata={"owner": "ann", "project": "fsdfs"}, CacheControl="max-age=60")
did("boto3", "PutObject")
etag = '"%s"' % hashlib.md5(body).hexdigest()
assert put["ETag"] == etag, put["ETag"]
head = s3.head_object(Bucket="data", Key="docs/readme.txt")
did("boto3", "HeadObject")
assert head["ContentLength"] == len(body) and head["ETag"] == etag
assert head["ContentType"] == "text/plain" and head["Metadata"] == {"owner": "ann", "project": "fsdfs"}
assert head["CacheControl"] == "max-age=60"
got = s3.get_object(Bucket="data", Key="docs/readme.txt")
did("boto3", "GetObject")
assert got["Body"].read() == body and got["ETag"] == etag and got["Metadata"]["owner"] == "ann"
assert error_code(lambda: s3.get_object(Bucket="data", Key="docs/none.txt")) == ("NoSuchKey", 404)
assert error_code(lambda: s3.get_object(Bucket="absent-bucket", Key="x")) == ("NoSuchBucket", 404)
assert error_code(lambda: s3.put_object(Bucket="absent-bucket", Key="x", Body=b"x")) == ("NoSuchBucket", 404)
s3.put_object(Bucket="data", Key="empty", Body=b"")
assert s3.get_object(Bucket="data", Key="empty")["Body"].read() == b""

# Ranges
ranged = s3.get_object(Bucket="data", Key="docs/readme.txt", Range="bytes=7-11")
assert ranged["Body"].read() == body[7:12] and ranged["ContentRange"] == "bytes 7-11/%d" % len(body)
assert s3.get_object(Bucket="data", Key="docs/readme.txt", Range="bytes=-5")["Body"].read() == body[-5:]
assert s3.get_object(Bucket="data", Key="docs/readme.txt", Range="bytes=1290-")["Body"].read() == body[1290:]
assert error_code(lambda: s3.get_object(Bucket="data", Key="docs/readme.txt", Range="bytes=5000-6000")) == ("InvalidRange", 416)
did("boto3", "GetObject Range")

# Conditionals
assert s3.get_object(Bucket="data", Key="docs/readme.txt", IfMatch=etag)["Body"].read() == body
assert error_code(lambda: s3.get_object(Bucket="data", Key="docs/readme.txt", IfMatch='"0000"')) == ("PreconditionFailed", 412)
assert error_code(lambda: s3.get_object(Bucket="data", Key="docs/readme.txt", IfNoneMatch=etag))[1] == 304
later = head["LastModified"] + datetime.timedelta(hours=1)
earlier = head["LastModified"] - datetime.timedelta(hours=1)
assert error_code(lambda: s3.get_object(Bucket="data", Key="docs/readme.txt", IfModifiedSince=later))[1] == 304
assert s3.get_object(Bucket="data", Key="docs/readme.txt", IfModifiedSince=earlier)["Body"].read() == body
assert error_code(lambda: s3.get_object(Bucket="data", Key="docs/readme.txt", IfUnmodifiedSince=earlier)) == ("PreconditionFailed", 412)
did("boto3", "GetObject If-Match/If-None-Match/If-Modified-Since/If-Unmodified-Since")

# Listing: V2 and V1, prefix, delimiter, max-keys, continuation, start-after
for i in range(12):
    s3.put_object(Bucket="data", Key="logs/2026/day-%02d.log" % i, Body=b"log %d\n" % i)
s3.put_object(Bucket="data", Key="logs/index.txt", Body=b"index")
s3.put_object(Bucket="data", Key="odd keys/ü + spaces & <xml>.txt", Body=b"odd")
everything = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="data", PaginationConfig={"PageSize": 5}):
    everything += [o["Key"] for o in page.get("Contents", [])]
did("boto3", "ListObjectsV2 max-keys continuation")
assert everything == sorted(everything) and len(everything) == 16, everything
assert "odd keys/ü + spaces & <xml>.txt" in everything
top = s3.list_objects_v2(Bucket="data", Delimiter="/")
assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["docs/", "logs/", "odd keys/"]
assert [o["Key"] for o in top["Contents"]] == ["empty"]
logs = s3.list_objects_v2(Bucket="data", Prefix="logs/", Delimiter="/")
assert [p["Prefix"] for p in logs["CommonPrefixes"]] == ["logs/2026/"] and [o["Key"] for o in logs["Contents"]] == ["logs/index.txt"]
did("boto3", "ListObjectsV2 prefix delimiter")
after = s3.list_objects_v2(Bucket="data", Prefix="logs/2026/", StartAfter="logs/2026/day-09.log")
assert [o["Key"] for o in after["Contents"]] == ["logs/2026/day-10.log", "logs/2026/day-11.log"]
did("boto3", "ListObjectsV2 start-after")
listed = s3.list_objects_v2(Bucket="data", Prefix="docs/")["Contents"][0]
assert listed["ETag"] == etag and listed["Size"] == len(body)
v1 = []
for page in s3.get_paginator("list_objects").paginate(Bucket="data", PaginationConfig={"PageSize": 4}):
    v1 += [o["Key"] for o in page.get("Contents", [])]
assert v1 == everything
v1top = s3.list_objects(Bucket="data", Delimiter="/", MaxKeys=2)
assert v1top["IsTruncated"] and len(v1top.get("Contents", [])) + len(v1top.get("CommonPrefixes", [])) == 2
rest = s3.list_objects(Bucket="data", Delimiter="/", Marker=v1top["NextMarker"])
assert [p["Prefix"] for p in rest.get("CommonPrefixes", [])] + [o["Key"] for o in rest.get("Contents", [])] == ["logs/", "odd keys/"]
did("boto3", "ListObjects (V1) marker delimiter")
assert s3.get_object(Bucket="data", Key="odd keys/ü + spaces & <xml>.txt")["Body"].read() == b"odd"

# CopyObject (metadata copied, or replaced)
copied = s3.copy_object(Bucket="data", Key="docs/copy.txt", CopySource={"Bucket": "data", "Key": "docs/readme.txt"})
did("boto3", "CopyObject")
assert copied["CopyObjectResult"]["ETag"] == etag
copy_head = s3.head_object(Bucket="data", Key="docs/copy.txt")
assert copy_head["Metadata"] == {"owner": "ann", "project": "fsdfs"} and copy_head["ContentType"] == "text/plain"
s3.copy_object(Bucket="data", Key="docs/copy.txt", CopySource={"Bucket": "data", "Key": "docs/copy.txt"},
               MetadataDirective="REPLACE", Metadata={"owner": "bob"}, ContentType="text/markdown")
copy_head = s3.head_object(Bucket="data", Key="docs/copy.txt")
assert copy_head["Metadata"] == {"owner": "bob"} and copy_head["ContentType"] == "text/markdown"
assert s3.get_object(Bucket="data", Key="docs/copy.txt")["Body"].read() == body

# DeleteObject, DeleteObjects
s3.delete_object(Bucket="data", Key="logs/index.txt")
did("boto3", "DeleteObject")
s3.delete_object(Bucket="data", Key="logs/never-there.txt")
assert error_code(lambda: s3.head_object(Bucket="data", Key="logs/index.txt"))[1] == 404
deleted = s3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": "logs/2026/day-%02d.log" % i} for i in range(12)]})
did("boto3", "DeleteObjects")
assert len(deleted["Deleted"]) == 12 and not deleted.get("Errors")
assert "Contents" not in s3.list_objects_v2(Bucket="data", Prefix="logs/")
assert error_code(lambda: s3.delete_bucket(Bucket="data")) == ("BucketNotEmpty", 409)

# Multipart: 50 MiB in 8 MiB parts through boto3's transfer manager, then by hand
big = os.urandom(1 << 20) * 50
s3.upload_fileobj(io.BytesIO(big), "data", "big/fifty.bin",
                  Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4))
parts = [big[i:i + (8 << 20)] for i in range(0, len(big), 8 << 20)]
expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-%d" % len(parts)
big_head = s3.head_object(Bucket="data", Key="big/fifty.bin")
assert big_head["ETag"] == '"%s"' % expected and big_head["ContentLength"] == len(big), big_head["ETag"]
out = io.BytesIO()
s3.download_fileobj("data", "big/fifty.bin", out, Config=TransferConfig(multipart_threshold=8 << 20, max_concurrency=4))
assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(big).digest()
did("boto3", "multipart upload 50 MiB (upload_fileobj) and ranged download")

upload = s3.create_multipart_upload(Bucket="data", Key="big/manual.bin", ContentType="application/x-test", Metadata={"parts": "2"})
did("boto3", "CreateMultipartUpload")
uid = upload["UploadId"]
first = s3.upload_part(Bucket="data", Key="big/manual.bin", UploadId=uid, PartNumber=1, Body=big[:5 << 20])
second = s3.upload_part(Bucket="data", Key="big/manual.bin", UploadId=uid, PartNumber=2, Body=b"tail")
did("boto3", "UploadPart")
listed_parts = s3.list_parts(Bucket="data", Key="big/manual.bin", UploadId=uid)["Parts"]
assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed_parts] == [(1, 5 << 20, first["ETag"]), (2, 4, second["ETag"])]
did("boto3", "ListParts")
assert uid in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="data")["Uploads"]]
did("boto3", "ListMultipartUploads")
assert error_code(lambda: s3.complete_multipart_upload(
    Bucket="data", Key="big/manual.bin", UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": second["ETag"]}, {"PartNumber": 1, "ETag": first["ETag"]}]}))[0] == "InvalidPartOrder"
assert error_code(lambda: s3.complete_multipart_upload(
    Bucket="data", Key="big/manual.bin", UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]}))[0] == "InvalidPart"
done = s3.complete_multipart_upload(Bucket="data", Key="big/manual.bin", UploadId=uid, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]})
did("boto3", "CompleteMultipartUpload")
manual = s3.get_object(Bucket="data", Key="big/manual.bin")
assert manual["Body"].read() == big[:5 << 20] + b"tail" and manual["ETag"].endswith('-2"') and done["ETag"] == manual["ETag"]
assert manual["ContentType"] == "application/x-test" and manual["Metadata"] == {"parts": "2"}
aborted = s3.create_multipart_upload(Bucket="data", Key="big/aborted.bin")["UploadId"]
s3.upload_part(Bucket="data", Key="big/aborted.bin", UploadId=aborted, PartNumber=1, Body=b"gone")
s3.abort_multipart_upload(Bucket="data", Key="big/aborted.bin", UploadId=aborted)
did("boto3", "AbortMultipartUpload")
assert error_code(lambda: s3.list_parts(Bucket="data", Key="big/aborted.bin", UploadId=aborted)) == ("NoSuchUpload", 404)
assert "Uploads" not in s3.list_multipart_uploads(Bucket="data")
assert error_code(lambda: s3.head_object(Bucket="data", Key="big/aborted.bin"))[1] == 404

# Presigned GET, and its refusals
url = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "docs/readme.txt"}, ExpiresIn=300)
assert urllib.request.urlopen(url).read() == body
did("boto3", "presigned GET")
try:
    urllib.request.urlopen(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    raise AssertionError("a tampered presigned URL was served")
except urllib.error.HTTPError as error:
    assert error.code == 403 and b"SignatureDoesNotMatch" in error.read()

# A wrong secret changes nothing
intruder = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret[::-1],
                        region_name="us-east-1", config=config)
assert error_code(lambda: intruder.put_object(Bucket="data", Key="intruder.txt", Body=b"x")) == ("SignatureDoesNotMatch", 403)
assert error_code(lambda: intruder.delete_object(Bucket="data", Key="docs/readme.txt")) == ("SignatureDoesNotMatch", 403)
stranger = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="FSDFNOSUCHKEY0000000", aws_secret_access_key=secret,
                        region_name="us-east-1", config=config)
assert error_code(lambda: stranger.list_buckets()) == ("InvalidAccessKeyId", 403)
assert error_code(lambda: s3.put_object(Bucket="data", Key="bad/../path", Body=b"x"))[1] == 400
assert s3.get_object(Bucket="data", Key="docs/readme.txt")["Body"].read() == body


# aws-chunked streaming upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), signed by hand
def sign(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256)


def streaming_put(key, chunks, tamper=False, trailer=None):
    """PUT of an aws-chunked body: chunks signed one by one, or (with `trailer`, the value of
    an x-amz-checksum-crc32 trailer) STREAMING-UNSIGNED-PAYLOAD-TRAILER."""
    mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER" if trailer else "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    host = endpoint.split("//", 1)[1]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = "%s/us-east-1/s3/aws4_request" % date
    decoded = sum(len(c) for c in chunks)
    headers = {"host": host, "x-amz-content-sha256": mode, "x-amz-date": amz_date,
               "x-amz-decoded-content-length": str(decoded), "content-encoding": "aws-chunked"}
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    signed_names = sorted(headers)
    canonical = "\n".join(["PUT", "/data/" + key, "", "".join("%s:%s\n" % (h, headers[h]) for h in signed_names),
                           ";".join(signed_names), mode])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key_bytes = ("AWS4" + secret).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key_bytes = sign(key_bytes, part).digest()
    previous = sign(key_bytes, to_sign).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access, scope, ";".join(signed_names), previous)
    payload = b""
    for index, chunk in enumerate(chunks + [b""]):
        data = chunk
        if tamper and index == 1:
            data = b"X" + chunk[1:]
        if trailer:
            payload += b"%x\r\n" % len(chunk) + data + (b"\r\n" if chunk else b"")
        else:
            chunk_to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous,
                                       hashlib.sha256(b"").hexdigest(), hashlib.sha256(chunk).hexdigest()])
            previous = sign(key_bytes, chunk_to_sign).hexdigest()
            payload += b"%x;chunk-signature=%s\r\n" % (len(chunk), previous.encode()) + data + b"\r\n"
    if trailer:
        payload += b"x-amz-checksum-crc32:" + trailer.encode() + b"\r\n\r\n"
    headers["content-length"] = str(len(payload))
    request = urllib.request.Request(endpoint + "/data/" + key, data=payload, method="PUT",
                                     headers={k: v for k, v in headers.items() if k != "host"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers.get("ETag")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


pieces = [os.urandom(64 << 10), os.urandom(64 << 10), b"the end"]
status, chunk_etag = streaming_put("streamed/chunked.bin", pieces)
assert status == 200, chunk_etag
assert chunk_etag == '"%s"' % hashlib.md5(b"".join(pieces)).hexdigest()
assert s3.get_object(Bucket="data", Key="streamed/chunked.bin")["Body"].read() == b"".join(pieces)
did("hand-signed", "PutObject aws-chunked STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
status, reply = streaming_put("streamed/tampered.bin", pieces, tamper=True)
assert status == 403 and "SignatureDoesNotMatch" in reply, (status, reply)
assert error_code(lambda: s3.head_object(Bucket="data", Key="streamed/tampered.bin"))[1] == 404
did("hand-signed", "aws-chunked chunk with a bad signature refused")
import base64
import zlib
crc = base64.b64encode(zlib.crc32(b"".join(pieces)).to_bytes(4, "big")).decode()
status, trailer_etag = streaming_put("streamed/trailer.bin", pieces, trailer=crc)
assert status == 200, trailer_etag
assert s3.get_object(Bucket="data", Key="streamed/trailer.bin")["Body"].read() == b"".join(pieces)
assert "ContentEncoding" not in s3.head_object(Bucket="data", Key="streamed/trailer.bin")
status, reply = streaming_put("streamed/bad-trailer.bin", pieces, trailer=base64.b64encode(b"\0\0\0\0").decode())
assert status == 400 and "BadDigest" in reply, (status, reply)
assert error_code(lambda: s3.head_object(Bucket="data", Key="streamed/bad-trailer.bin"))[1] == 404
did("hand-signed", "PutObject STREAMING-UNSIGNED-PAYLOAD-TRAILER with its CRC32 checked")

# encoding-type=url, as the AWS CLI asks for it
from urllib.parse import quote
encoded = s3.list_objects_v2(Bucket="data", Prefix="odd keys/", EncodingType="url")
assert [o["Key"] for o in encoded["Contents"]] == [quote("odd keys/ü + spaces & <xml>.txt", safe="/~")], encoded["Contents"]
did("boto3", "ListObjectsV2 encoding-type=url")

# Signed requests whose body or headers are not what was signed change nothing
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed(method, key, body, headers, after_signing=None, send_body=None):
    request = AWSRequest(method=method, url=endpoint + "/data/" + key, data=body, headers=dict(headers))
    S3SigV4Auth(Credentials(access, secret), "s3", "us-east-1").add_auth(request)
    prepared = dict(request.prepare().headers)
    prepared.update(after_signing or {})
    raw = urllib.request.Request(endpoint + "/data/" + key, data=body if send_body is None else send_body, method=method,
                                 headers=prepared)
    try:
        with urllib.request.urlopen(raw) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


status, reply = signed("PUT", "liar.bin", b"the signed body", {}, send_body=b"another body!!!")
assert status == 400 and "XAmzContentSHA256Mismatch" in reply, (status, reply)
status, reply = signed("PUT", "added.bin", b"body", {}, after_signing={"x-amz-meta-owner": "mallory"})
assert status == 403 and "AccessDenied" in reply, (status, reply)
status, reply = signed("PUT", "copied-in.bin", b"", {}, after_signing={"x-amz-copy-source": "/data/docs/readme.txt"})
assert status == 403, (status, reply)
for key in ("liar.bin", "added.bin", "copied-in.bin"):
    assert error_code(lambda: s3.head_object(Bucket="data", Key=key))[1] == 404, key
did("hand-signed", "a body that is not the signed SHA-256, and headers added after signing, refused")

# The AWS CLI
aws = os.path.join(os.path.dirname(sys.executable), "aws")
environment = dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE=os.path.join(work, "aws-config"), AWS_SHARED_CREDENTIALS_FILE=os.path.join(work, "aws-credentials"))


def cli(*arguments):
    arguments = list(arguments)
    if arguments[0] == "s3" and arguments[1] in ("cp", "sync"):
        arguments.append("--no-progress")
    result = subprocess.run([aws, "--endpoint-url", endpoint, *arguments], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, "aws %s: %s %s" % (" ".join(arguments), result.stdout, result.stderr)
    return result.stdout


tree = os.path.join(work, "tree")
os.makedirs(os.path.join(tree, "sub", "deep"))
files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(300000), "sub/deep/c.txt": b"gamma " * 1000, "big.bin": os.urandom(12 << 20)}
for name, content in files.items():
    with open(os.path.join(tree, name), "wb") as handle:
        handle.write(content)
cli("s3", "mb", "s3://cli-bucket")
did("aws-cli", "s3 mb")
cli("s3", "cp", os.path.join(tree, "a.txt"), "s3://cli-bucket/single/a.txt")
did("aws-cli", "s3 cp")
cli("s3", "sync", tree, "s3://cli-bucket/tree")
did("aws-cli", "s3 sync (up, with a 12 MiB multipart file)")
listing = cli("s3", "ls", "--recursive", "s3://cli-bucket")
for name, content in files.items():
    assert ("tree/" + name) in listing and str(len(content)) in listing, listing
top = cli("s3", "ls", "s3://cli-bucket/")
assert "PRE single/" in top and "PRE tree/" in top, top
did("aws-cli", "s3 ls")
back = os.path.join(work, "back")
cli("s3", "sync", "s3://cli-bucket/tree", back)
for name, content in files.items():
    with open(os.path.join(back, name), "rb") as handle:
        assert handle.read() == content, name
did("aws-cli", "s3 sync (down)")
cli("s3", "cp", "s3://cli-bucket/single/a.txt", os.path.join(work, "a-again.txt"))
with open(os.path.join(work, "a-again.txt"), "rb") as handle:
    assert handle.read() == files["a.txt"]
head = json.loads(cli("s3api", "head-object", "--bucket", "cli-bucket", "--key", "tree/sub/b.bin"))
assert head["ContentLength"] == len(files["sub/b.bin"]) and head["ETag"] == '"%s"' % hashlib.md5(files["sub/b.bin"]).hexdigest()
did("aws-cli", "s3api head-object")
cli("s3", "rm", "--recursive", "s3://cli-bucket/tree")
did("aws-cli", "s3 rm --recursive")
remaining = cli("s3", "ls", "--recursive", "s3://cli-bucket")
assert "tree/" not in remaining and "single/a.txt" in remaining, remaining

print(json.dumps(exercised))
