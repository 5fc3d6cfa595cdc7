module weft.invalid/go_commit_hash

go 1.22.0

require (
	github.com/hyperledger/fabric-protos-go-apiv2 v0.3.7
	google.golang.org/protobuf v1.36.6
)
