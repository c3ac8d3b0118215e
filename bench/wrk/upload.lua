-- wrk script for the upload scenario of `make bench`: every request is a POST of a 1 MiB body
-- (wrk adds Content-Length). Run as: wrk ... -s bench/wrk/upload.lua http://HOST:PORT/upload
wrk.method = "POST"
wrk.body = string.rep("x", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
