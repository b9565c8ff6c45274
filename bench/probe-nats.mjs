import { EmbeddedNats } from 'autonomy-os/internal';
const n = await EmbeddedNats.start({ jetstream: process.env.JS === '1' });
console.log(n.url);
process.on('SIGTERM', async () => { await n.stop(); process.exit(0); });
setInterval(() => {}, 1e9);
