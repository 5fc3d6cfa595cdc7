// Caliper workload module for the asset-transfer "basic" contract. Round "create" submits
// CreateAsset for fresh ids; round "read" evaluates ReadAsset on the ids the create round made, so
// a read fails (and Caliper counts the failure) unless the create round's assets were committed.
//
// Round arguments: operation (create or read), contractId (the chaincode name), assets (how many
// ids the create round made per worker; read rounds only). Ids are unique per worker within one
// run; each run is meant for a fresh ledger.
'use strict';

const { WorkloadModuleBase } = require('@hyperledger/caliper-core');

class BasicWorkload extends WorkloadModuleBase {
    constructor() {
        super();
        this.next = 0;
    }

    async initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext) {
        await super.initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext);
        for (const key of ['contractId', 'operation']) {
            if (typeof roundArguments[key] !== 'string' || roundArguments[key] === '') {
                throw new Error(`workload argument ${key} must be a non-empty string`);
            }
        }
        if (!['create', 'read'].includes(roundArguments.operation)) {
            throw new Error(`workload argument operation must be create or read, got ${roundArguments.operation}`);
        }
        if (roundArguments.operation === 'read' && !(Number.isInteger(roundArguments.assets) && roundArguments.assets > 0)) {
            throw new Error('a read round needs a positive integer argument assets');
        }
    }

    assetId(index) {
        return `caliper_w${this.workerIndex}_${index}`;
    }

    async submitTransaction() {
        const index = this.next++;
        const args = this.roundArguments;
        if (args.operation === 'create') {
            return this.sutAdapter.sendRequests({
                contractId: args.contractId,
                contractFunction: 'CreateAsset',
                contractArguments: [this.assetId(index), 'blue', '5', `owner${index}`, '100'],
                readOnly: false,
            });
        }
        return this.sutAdapter.sendRequests({
            contractId: args.contractId,
            contractFunction: 'ReadAsset',
            contractArguments: [this.assetId(index % args.assets)],
            readOnly: true,
        });
    }
}

function createWorkloadModule() {
    return new BasicWorkload();
}

module.exports.createWorkloadModule = createWorkloadModule;
