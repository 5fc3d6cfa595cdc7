// A chaincode-events client written the way Fabric's events tutorial app writes one with
// @hyperledger/fabric-gateway: listen with network.getChaincodeEvents before submitting, submit
// writes to the "crud" contract (which names each write in a Created/Updated/Deleted event whose
// payload is the record key), read the events as they commit, then replay them from a start
// block and resume a replay from a checkpointer. Checks make a wrong answer fail the run.
//
// Environment: CRYPTO_PATH (the org's folder under organizations/peerOrganizations), MSP_ID,
// PEER_ENDPOINT, PEER_HOST_ALIAS, CHANNEL_NAME, CHAINCODE_NAME (default crud).
'use strict';

const grpc = require('@grpc/grpc-js');
const { checkpointers, connect, hash, signers } = require('@hyperledger/fabric-gateway');
const crypto = require('node:crypto');
const fs = require('node:fs/promises');
const path = require('node:path');
const assert = require('node:assert/strict');

const channelName = process.env.CHANNEL_NAME ?? 'mychannel';
const chaincodeName = process.env.CHAINCODE_NAME ?? 'crud';
const mspId = process.env.MSP_ID ?? 'Org1MSP';
const cryptoPath = process.env.CRYPTO_PATH ?? path.resolve(__dirname, '..', '..', '.weft-network', 'organizations', 'peerOrganizations', 'org1.example.com');
const userPath = path.join(cryptoPath, 'users', 'User1@org1.example.com', 'msp');
const tlsCertPath = path.join(cryptoPath, 'peers', 'peer0.org1.example.com', 'tls', 'ca.crt');
const peerEndpoint = process.env.PEER_ENDPOINT ?? 'localhost:7051';
const peerHostAlias = process.env.PEER_HOST_ALIAS ?? 'peer0.org1.example.com';
const utf8 = new TextDecoder();
const recordKey = `event${Date.now()}`;
// How long one event may take to arrive before the run fails.
const eventWaitMs = 30000;

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
        chaincodeEventsOptions: () => ({ deadline: Date.now() + 120000 }),
    });
    try {
        const network = gateway.getNetwork(channelName);
        const contract = network.getContract(chaincodeName);

        console.log('*** Start chaincode event listening');
        const live = await network.getChaincodeEvents(chaincodeName);
        let expected;
        try {
            expected = [
                await submit(contract, 'Created', 'Create', recordKey, '{"color":"blue"}'),
                await submit(contract, 'Updated', 'Update', recordKey, '{"color":"red"}'),
                await submit(contract, 'Deleted', 'Delete', recordKey),
            ];
            console.log('*** Read the events as they commit');
            await expectEvents(live, expected);
        } finally {
            live.close();
        }

        const startBlock = expected[0].blockNumber;
        console.log(`*** Replay chaincode events from block ${startBlock}`);
        const checkpointer = checkpointers.inMemory();
        const replay = await network.getChaincodeEvents(chaincodeName, { checkpoint: checkpointer, startBlock });
        try {
            const [first] = await expectEvents(replay, expected.slice(0, 1));
            await checkpointer.checkpointChaincodeEvent(first);
        } finally {
            replay.close();
        }
        assert.equal(checkpointer.getBlockNumber(), startBlock);
        assert.equal(checkpointer.getTransactionId(), expected[0].transactionId);

        console.log('*** Resume the replay from the checkpoint (after the Created event)');
        const resumed = await network.getChaincodeEvents(chaincodeName, { checkpoint: checkpointer, startBlock: 0n });
        try {
            await expectEvents(resumed, expected.slice(1));
        } finally {
            resumed.close();
        }
        console.log('*** all checks passed');
    } finally {
        gateway.close();
        client.close();
    }
}

/** Submits one write and returns the event it must emit, with its transaction and block. */
async function submit(contract, eventName, fn, ...args) {
    console.log(`--> Submit Transaction: ${fn} ${args.join(' ')}`);
    const commit = await contract.submitAsync(fn, { arguments: args });
    const status = await commit.getStatus();
    assert.ok(status.successful, `${fn} committed with status ${status.code}`);
    console.log(`*** Transaction ${status.transactionId} committed in block ${status.blockNumber}`);
    return { blockNumber: status.blockNumber, transactionId: status.transactionId, eventName, payload: recordKey };
}

/** Reads the next events of `events` and checks them against `expected`, in order. */
async function expectEvents(events, expected) {
    const iterator = events[Symbol.asyncIterator]();
    const got = [];
    for (const want of expected) {
        const next = await withTimeout(iterator.next(), `the ${want.eventName} event`);
        assert.ok(!next.done, `the event stream ended before the ${want.eventName} event`);
        const event = next.value;
        const payload = utf8.decode(event.payload);
        console.log(`<-- Chaincode event ${event.eventName} ${payload} (tx ${event.transactionId}, block ${event.blockNumber})`);
        assert.equal(event.chaincodeName, chaincodeName);
        assert.equal(event.eventName, want.eventName);
        assert.equal(payload, want.payload);
        assert.equal(event.transactionId, want.transactionId);
        assert.equal(event.blockNumber, want.blockNumber);
        got.push(event);
    }
    return got;
}

function withTimeout(promise, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within ${eventWaitMs} ms`)), eventWaitMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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
