# For bench/zfs-stream.ts BENCH_TRANSPORTS=1 only: one end of a stream that the two hosts encrypt
# end to end while the worker relays only ciphertext (two encryption passes instead of SSH's four).
# Both ends connect out to the worker's relay port; the receiver is the TLS 1.3 server, the sender
# the client, which pins the receiver's one-time certificate. "plain" skips TLS to measure what the
# extra process and pipe copy cost on their own. Not used by any runbook.
# Usage: python3 tls-endpoint.py send|recv PORT tls|plain CERT_DIR   (stdin -> relay, relay -> stdout)
import fcntl
import os
import socket
import ssl
import sys

role, port, mode, cert_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
CHUNK = 1 << 20
cert, key = os.path.join(cert_dir, "cert.pem"), os.path.join(cert_dir, "key.pem")
sock = socket.create_connection(("127.0.0.1", port))
# A 64 KiB pipe makes every read or write of the stream a syscall per 64 KiB.
for fd in (0, 1):
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass

if role == "recv":
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(cert, key)
        # A ticket the sender never reads would make its close() reset the connection mid-stream.
        ctx.num_tickets = 0
        sock = ctx.wrap_socket(sock, server_side=True)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while n := sock.recv_into(buf):
        done = 0
        while done < n:
            done += os.write(1, view[done:n])
else:
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.load_verify_locations(cert)
        sock = ctx.wrap_socket(sock)
    while chunk := os.read(0, CHUNK):
        sock.sendall(chunk)
    sock.close()
