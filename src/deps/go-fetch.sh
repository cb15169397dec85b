# repro's Go fetch step: runs in the `go` builder image as an unprivileged user, network on.
# `go mod download` fetches every module of the build list into a module cache and checks each
# against go.sum; it builds nothing and runs no project code. GOPROXY, GOSUMDB, GOPRIVATE and
# GONOSUMDB come from the user's environment when set.
#
# In:  /src (the project, read-only; go.mod and go.sum).
# Out: /fetch/out/go (a GOMODCACHE: cache/download/… and the extracted modules).
set -eu
export HOME=/tmp/home GOPATH=/tmp/go GOCACHE=/tmp/go-build GOTOOLCHAIN=local \
    GOMODCACHE=/fetch/out/go GOFLAGS="-mod=readonly -modcacherw"
mkdir -p "$GOMODCACHE"
cd /src
go mod download
