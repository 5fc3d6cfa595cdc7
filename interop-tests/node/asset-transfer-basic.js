// A client of the asset-transfer "basic" chaincode written the way Fabric's Gateway tutorials
// write one (connect with a gRPC TLS connection, an X.509 identity and a signer, then submit and
// evaluate transactions), with checks added so that a wrong answer fails the run.
//
// Environment: CRYPTO_PATH (the org's folder under organizations/peerOrganizations), MSP_ID,
// PEER_ENDPOINT, PEER_HOST_ALIAS, CHANNEL_NAME, CHAINCODE_NAME.
'use strict';

const grpc = require('@grpc/grpc-js');
const { connect, hash, signers } = require('@hyperledger/fabric-gateway');
const crypto = require('node:crypto');
const fs = require('node:fs/promises');
const path = require('node:path');
const assert = require('node:assert/strict');

const channelName = process.env.CHANNEL_NAME ?? 'mychannel';
const chaincodeName = process.env.CHAINCODE_NAME ?? 'basic';
const mspId = process.env.MSP_ID ?? 'Org1MSP';
const cryptoPath = process.env.CRYPTO_PATH ?? path.resolve(__dirname, '..', '..', '.weft-network', 'organizations', 'peerOrganizations', 'org1.example.com');
const userPath = path.join(cryptoPath, 'users', 'User1@org1.example.com', 'msp');
const tlsCertPath = path.join(cryptoPath, 'peers', 'peer0.org1.example.com', 'tls', 'ca.crt');
const peerEndpoint = process.env.PEER_ENDPOINT ?? 'localhost:7051';
const peerHostAlias = process.env.PEER_HOST_ALIAS ?? 'peer0.org1.example.com';
const utf8 = new TextDecoder();
const assetId = `asset${Date.now()}`;

async function main() {
    const client = await newGrpcConnection();
    const gateway = connect({
        client,
        identity: await newIdentity(),
        signer: await newSigner(),
        hash: hash.sha256,
        evaluateOptions: () => ({ deadline: Date.now() + 5000 }),
        endorseOptions: () => ({ deadline: Date.now() + 15000 }),
        submitOptions: () => ({ deadline: Date.now() + 5000 }),
        commitStatusOptions: () => ({ deadline: Date.now() + 60000 }),
    });
    try {
        const contract = gateway.getNetwork(channelName).getContract(chaincodeName);

        console.log('--> Submit Transaction: InitLedger');
        await contract.submitTransaction('InitLedger');

        console.log('--> Evaluate Transaction: GetAllAssets');
        const all = JSON.parse(utf8.decode(await contract.evaluateTransaction('GetAllAssets')));
        assert.ok(all.length >= 6, `InitLedger should create six assets, got ${JSON.stringify(all)}`);
        assert.deepEqual(Object.keys(all[0]).sort(), ['AppraisedValue', 'Color', 'ID', 'Owner', 'Size']);

        console.log(`--> Submit Transaction: CreateAsset ${assetId}`);
        await contract.submitTransaction('CreateAsset', assetId, 'yellow', '5', 'Tom', '1300');

        console.log('--> Async Submit Transaction: TransferAsset');
        const commit = await contract.submitAsync('TransferAsset', { arguments: [assetId, 'Saptha'] });
        const oldOwner = utf8.decode(commit.getResult());
        assert.equal(oldOwner, 'Tom');
        const status = await commit.getStatus();
        assert.ok(status.successful, `TransferAsset committed with status ${status.code}`);
        console.log(`*** Transaction ${status.transactionId} committed in block ${status.blockNumber}`);

        console.log(`--> Evaluate Transaction: ReadAsset ${assetId}`);
        const asset = JSON.parse(utf8.decode(await contract.evaluateTransaction('ReadAsset', assetId)));
        assert.deepEqual(asset, { ID: assetId, Color: 'yellow', Size: 5, Owner: 'Saptha', AppraisedValue: 1300 });

        console.log('--> Submit Transaction: UpdateAsset asset70 (does not exist)');
        await assert.rejects(
            contract.submitTransaction('UpdateAsset', 'asset70', 'blue', '5', 'Tomoko', '300'),
            (err) => {
                console.log(`*** Caught ${err.constructor.name}: ${err.message}`);
                for (const d of err.details ?? []) {
                    console.log(`    ${d.mspId} ${d.address}: ${d.message}`);
                }
                assert.equal(err.constructor.name, 'EndorseError');
                assert.ok((err.details ?? []).some((d) => d.message.includes('the asset asset70 does not exist')), 'error details name the missing asset');
                return true;
            },
        );
        console.log('*** all checks passed');
    } finally {
        gateway.close();
        client.close();
    }
}

async function newGrpcConnection() {
    const tlsRootCert = await fs.readFile(tlsCertPath);
    const tlsCredentials = grpc.credentials.createSsl(tlsRootCert);
    return new grpc.Client(peerEndpoint, tlsCredentials, { 'grpc.ssl_target_name_override': peerHostAlias });
}

async function newIdentity() {
    const certDir = path.join(userPath, 'signcerts');
    const files = await fs.readdir(certDir);
    const credentials = await fs.readFile(path.join(certDir, files[0]));
    return { mspId, credentials };
}

async function newSigner() {
    const keyDir = path.join(userPath, 'keystore');
    const files = await fs.readdir(keyDir);
    const privateKeyPem = await fs.readFile(path.join(keyDir, files[0]));
    return signers.newPrivateKeySigner(crypto.createPrivateKey(privateKeyPem));
}

main().catch((error) => {
    console.error('******** FAILED to run the application:', error);
    process.exitCode = 1;
});
