import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSlurmMinutes, formatTres, parseAssociations, parseConfig, parsePartitions, parseQos, parseSlurmMinutes, parseTres, parseTresList, parseUsers, shellWord, SlurmOutputError } from './sacctmgr.ts';

// Output as SLURM 22.05.8 prints it here (sacctmgr -n -P …, scontrol show partition -o).
describe('sacctmgr and scontrol output', () => {
  it('reads associations: accounts and users, fair share numbers and parent, QOS sorted', () => {
    const text = 'root|||1|normal\nroot|root||1|normal\nkeisan||root|1|normal\nlab||keisan|parent|normal\nlab-ml||lab|3|short,express\nlab-ml|alice||1|express,short\n';
    assert.deepEqual(parseAssociations(text), [
      { account: 'root', user: '', parent: '', fairshare: 1, qos: ['normal'] },
      { account: 'root', user: 'root', parent: '', fairshare: 1, qos: ['normal'] },
      { account: 'keisan', user: '', parent: 'root', fairshare: 1, qos: ['normal'] },
      { account: 'lab', user: '', parent: 'keisan', fairshare: 'parent', qos: ['normal'] },
      { account: 'lab-ml', user: '', parent: 'lab', fairshare: 3, qos: ['express', 'short'] },
      { account: 'lab-ml', user: 'alice', parent: '', fairshare: 1, qos: ['express', 'short'] },
    ]);
    assert.throws(() => parseAssociations('lab|x'), SlurmOutputError);
    assert.throws(() => parseAssociations('lab||keisan|lots|normal'), /could not read an association/);
  });

  it('reads users, TRES and QOS limits (memory in MiB, times in minutes, unset = null)', () => {
    assert.deepEqual(parseUsers('alice|lab-ml\nroot|root\n'), [{ name: 'alice', defaultAccount: 'lab-ml' }, { name: 'root', defaultAccount: 'root' }]);
    assert.deepEqual(parseTresList('cpu|\nmem|\nfs|disk\ngres|gpu\n'), ['cpu', 'mem', 'fs/disk', 'gres/gpu']);
    const qos = parseQos('normal|Normal QOS default|0|||||||\nexpress|keisan queue express|100|00:10:00|cpu=4,gres/gpu=1,mem=16G|cpu=40|2|8|DenyOnLimit\nhuge|keisan queue huge|20|7-00:00:00|cpu=64,mem=1536M||10||\n');
    assert.deepEqual(qos[0], { name: 'normal', description: 'Normal QOS default', priority: 0, maxWallMinutes: null, maxTresPerJob: {}, maxTresMinsPerJob: {}, maxJobsPerUser: null, maxJobsPerAccount: null, flags: [] });
    assert.deepEqual(qos[1], { name: 'express', description: 'keisan queue express', priority: 100, maxWallMinutes: 10, maxTresPerJob: { cpu: 4, 'gres/gpu': 1, mem: 16384 }, maxTresMinsPerJob: { cpu: 40 }, maxJobsPerUser: 2, maxJobsPerAccount: 8, flags: ['DenyOnLimit'] });
    assert.equal(qos[2]!.maxWallMinutes, 7 * 1440);
    assert.deepEqual(qos[2]!.maxTresPerJob, { cpu: 64, mem: 1536 });
  });

  it('reads partitions and the configuration', () => {
    const partitions = parsePartitions(
      'PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A DefaultTime=NONE MaxTime=UNLIMITED PriorityTier=1 State=UP TotalCPUs=2\n' +
        'PartitionName=short AllowQos=short,express DefaultTime=00:30:00 MaxTime=01:00:00 PriorityTier=80 State=INACTIVE\n',
    );
    assert.deepEqual(partitions, [
      { name: 'debug', state: 'UP', maxTimeMinutes: null, defaultTimeMinutes: null, priorityTier: 1, allowQos: 'ALL' },
      { name: 'short', state: 'INACTIVE', maxTimeMinutes: 60, defaultTimeMinutes: 30, priorityTier: 80, allowQos: 'short,express' },
    ]);
    const config = parseConfig('Configuration data as of 1795464134\nAccountingStorageEnforce = associations,limits,qos\nClusterName             = synctest\nPriorityType            = priority/multifactor\n');
    assert.equal(config.get('ClusterName'), 'synctest');
    assert.equal(config.get('AccountingStorageEnforce'), 'associations,limits,qos');
  });

  it('converts durations and TRES both ways', () => {
    for (const [text, minutes] of [['00:10:00', 10], ['01:00:00', 60], ['1-00:00:00', 1440], ['7-00:00:00', 10080], ['2-12', 3600], ['45', 45], ['05:30', 6], ['UNLIMITED', null], ['NONE', null], ['', null]] as const) {
      assert.equal(parseSlurmMinutes(text), minutes, text);
    }
    assert.throws(() => parseSlurmMinutes('soon'), SlurmOutputError);
    assert.equal(formatSlurmMinutes(10), '00:10:00');
    assert.equal(formatSlurmMinutes(10080), '7-00:00:00');
    assert.equal(formatSlurmMinutes(1501), '1-01:01:00');
    for (const minutes of [1, 59, 60, 1439, 1440, 40320]) assert.equal(parseSlurmMinutes(formatSlurmMinutes(minutes)), minutes);
    assert.deepEqual(parseTres('cpu=4,gres/gpu=1,mem=16G'), { cpu: 4, 'gres/gpu': 1, mem: 16384 });
    assert.deepEqual(parseTres('mem=2T,gres/gpu:h200=2'), { mem: 2 * 1024 * 1024, 'gres/gpu:h200': 2 });
    assert.equal(formatTres({ mem: 16384, cpu: 4, 'gres/gpu': -1 }), 'cpu=4,gres/gpu=-1,mem=16384M');
    assert.deepEqual(parseTres(formatTres({ cpu: 4, mem: 16384 })), { cpu: 4, mem: 16384 });
  });

  it('quotes only the words a shell needs quoted', () => {
    assert.equal(shellWord('QOS=express,short'), 'QOS=express,short');
    assert.equal(shellWord('Description=keisan queue short'), "Description='keisan queue short'");
    assert.equal(shellWord("it's"), `'it'\\''s'`);
  });
});
