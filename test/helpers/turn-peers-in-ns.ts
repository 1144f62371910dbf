// Run inside a network namespace (ip netns exec): the turn-peers check with the options given as JSON; prints its results.
import { TurnPeersCheck, type TurnPeersCheckOptions } from '../../lib/checks/turn-peers.js';

const options = JSON.parse(process.argv[2] ?? '{}') as TurnPeersCheckOptions;
process.stdout.write(JSON.stringify(await new TurnPeersCheck(options).run()));
