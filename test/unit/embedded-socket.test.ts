/**
 * Where the embedded cluster puts its Unix socket (src/embedded/socket.ts socketDirFor): in its own
 * data folder when the socket's path fits sun_path and needs no quoting, else nowhere (TCP).
 */
import t from 'tap';
import { socketDirFor } from '../../src/embedded/socket.js';

t.test('a short, plain data folder holds the socket', async (t) => {
  t.equal(socketDirFor('/tmp/dcr/pg', 54321, 'linux'), '/tmp/dcr/pg');
  t.equal(socketDirFor('/home/me/.local/share/wso2-dcr_1.0/pg', 5432, 'darwin'), '/home/me/.local/share/wso2-dcr_1.0/pg');
});

t.test('a path longer than sun_path allows: no socket', async (t) => {
  const dir = `/${'d'.repeat(90)}/pg`;
  t.equal(`${dir}/.s.PGSQL.54321`.length, 109);
  t.equal(socketDirFor(dir, 54321, 'linux'), undefined);
  const fits = `/${'d'.repeat(84)}/pg`; // 103 bytes with the socket's name
  t.equal(socketDirFor(fits, 54321, 'linux'), fits);
  t.equal(socketDirFor(`/${'d'.repeat(85)}/pg`, 54321, 'linux'), undefined);
});

t.test('characters unix_socket_directories would need quoted: no socket', async (t) => {
  for (const dir of ['/tmp/my data/pg', '/tmp/a,b/pg', '/tmp/"q"/pg', "/tmp/it's/pg", '/tmp/é/pg']) {
    t.equal(socketDirFor(dir, 5432, 'linux'), undefined, dir);
  }
});

t.test('Windows: no socket', async (t) => {
  t.equal(socketDirFor('C:/dcr/pg', 5432, 'win32'), undefined);
});
