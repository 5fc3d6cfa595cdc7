// A fabric-network 2.2 application (the SDK before the Gateway service) against a network with
// discovery on: a connection profile naming one Org1 peer, an in-memory wallet, discovery as
// localhost. Submits and evaluates asset-transfer "basic" transactions and listens for blocks and
// contract events, checking each answer. Environment: CRYPTO_PATH (Org1's folder under
// organizations/peerOrganizations), PEER_ENDPOINT, CHANNEL_NAME, CHAINCODE_NAME.
'use strict';

const { Gateway, Wallets } = require('fabric-network');
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');

const cryptoPath = process.env.CRYPTO_PATH ?? path.resolve(__dirname, '..', '..', '.weft-network', 'organizations', 'peerOrganizations', 'org1.example.com');
const peerEndpoint = process.env.PEER_ENDPOINT ?? 'localhost:7051';
const channelName = process.env.CHANNEL_NAME ?? 'mychannel';
const chaincodeName = process.env.CHAINCODE_NAME ?? 'basic';
const userMsp = path.join(cryptoPath, 'users', 'User1@org1.example.com', 'msp');

function firstFile(dir) {
    return fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'utf8');
}

function connectionProfile() {
    const tlsCa = fs.readFileSync(path.join(cryptoPath, 'peers', 'peer0.org1.example.com', 'tls', 'ca.crt'), 'utf8');
    return {
        name: 'weft-local-network-org1',
        version: '1.0.0',
        client: { organization: 'Org1', connection: { timeout: { peer: { endorser: '300' } } } },
        organizations: { Org1: { mspid: 'Org1MSP', peers: ['peer0.org1.example.com'] } },
        peers: {
            'peer0.org1.example.com': {
                url: `grpcs://${peerEndpoint}`,
                tlsCACerts: { pem: tlsCa },
                grpcOptions: { 'ssl-target-name-override': 'peer0.org1.example.com', hostnameOverride: 'peer0.org1.example.com' },
            },
        },
    };
}

async function main() {
    const wallet = await Wallets.newInMemoryWallet();
    await wallet.put('appUser', {
        credentials: { certificate: firstFile(path.join(userMsp, 'signcerts')), privateKey: firstFile(path.join(userMsp, 'keystore')) },
        mspId: 'Org1MSP',
        type: 'X.509',
    });
    const gateway = new Gateway();
    await gateway.connect(connectionProfile(), { wallet, identity: 'appUser', discovery: { enabled: true, asLocalhost: true } });
    try {
        const network = await gateway.getNetwork(channelName);
        const contract = network.getContract(chaincodeName);
        const assetId = `legacy${Date.now()}`;

        const blocks = [];
        await network.addBlockListener(async (event) => { blocks.push(event.blockNumber.toNumber()); });

        console.log(`--> submit CreateAsset ${assetId}`);
        await contract.submitTransaction('CreateAsset', assetId, 'green', '7', 'Ada', '900');
        console.log('--> evaluate ReadAsset');
        const asset = JSON.parse((await contract.evaluateTransaction('ReadAsset', assetId)).toString());
        assert.deepEqual(asset, { ID: assetId, Color: 'green', Size: 7, Owner: 'Ada', AppraisedValue: 900 });

        console.log('--> submit TransferAsset');
        const previousOwner = (await contract.submitTransaction('TransferAsset', assetId, 'Grace')).toString();
        assert.equal(previousOwner, 'Ada');

        console.log('--> submit of a missing asset fails');
        await assert.rejects(contract.submitTransaction('UpdateAsset', 'missing-asset', 'x', '1', 'y', '1'), (err) => {
            console.log(`*** caught: ${err.message}`);
            assert.ok(err.message.includes('the asset missing-asset does not exist'), err.message);
            return true;
        });
        for (let i = 0; i < 50 && blocks.length === 0; i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(blocks.length > 0, 'the block listener received blocks');
        console.log(`*** blocks seen by the listener: ${blocks.join(', ')}`);
        console.log('*** all checks passed');
    } finally {
        gateway.disconnect();
    }
}

main().catch((error) => {
    console.error('******** FAILED:', error);
    process.exitCode = 1;
});
