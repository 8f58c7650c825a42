// Signing under Node: a client with credentials is served, one without is refused.
import { CmqdClient, CmqdError } from "@cmqd/sdk";

const [url, secretId, secretKey] = process.argv.slice(2);
const signed = new CmqdClient({ baseUrl: url, credentials: { secretId, secretKey } });
const { created } = await signed.createQueue("signed-in-node");
const unsigned = new CmqdClient({ baseUrl: url });
let refused = "";
try {
  await unsigned.listQueues();
} catch (error) {
  if (error instanceof CmqdError) refused = error.code;
}
signed.close();
unsigned.close();
console.log(JSON.stringify({ created, refused }));
