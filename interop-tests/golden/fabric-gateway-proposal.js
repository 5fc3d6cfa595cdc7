// Builds one chaincode proposal offline with the unchanged @hyperledger/fabric-gateway Node client
// and writes its serialized bytes (a gateway.ProposedTransaction carrying the SignedProposal) to a
// file, for interop-tests/tests/it/golden/gateway_proposal.rs to take apart.
//
// Usage: node fabric-gateway-proposal.js '<json request>'
//   request = { mspId, certPath, keyPath, channel, chaincode, transaction, args: [string],
//               transient: {name: string}, endorsingOrganizations: [string], out }
//
// Nothing here talks to the network: the gRPC client points at a closed local port and is only
// needed because connect() insists on one. The proposal is signed the "offline signing" way
// (connect without a signer, sign the digest, then newSignedProposal), with the package's own
// private-key signer, so the bytes are what the client would send to a gateway peer.
'use strict';

const fs = require('node:fs');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const { connect, signers } = require('@hyperledger/fabric-gateway');

async function main() {
    const request = JSON.parse(process.argv[2]);
    const client = new grpc.Client('127.0.0.1:9', grpc.credentials.createInsecure());
    const gateway = connect({
        client,
        identity: { mspId: request.mspId, credentials: fs.readFileSync(request.certPath) },
    });
    try {
        const contract = gateway.getNetwork(request.channel).getContract(request.chaincode);
        const transientData = {};
        for (const [name, value] of Object.entries(request.transient)) {
            transientData[name] = Buffer.from(value);
        }
        const unsigned = contract.newProposal(request.transaction, {
            arguments: request.args,
            transientData,
            endorsingOrganizations: request.endorsingOrganizations,
        });
        const sign = signers.newPrivateKeySigner(crypto.createPrivateKey(fs.readFileSync(request.keyPath)));
        const signature = await sign(unsigned.getDigest());
        const signed = gateway.newSignedProposal(unsigned.getBytes(), signature);
        fs.writeFileSync(request.out, signed.getBytes());
    } finally {
        gateway.close();
        client.close();
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
