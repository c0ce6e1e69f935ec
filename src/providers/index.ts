/** Built-in providers, registered on import; `registerProvider` adds more. */

import { registerProvider } from './provider.js';
import { rxeProvider } from './rxe.js';
import { siwProvider } from './siw.js';

registerProvider(rxeProvider);
registerProvider(siwProvider);

export {
  type Datapath,
  type Provider,
  providerFor,
  type RingCall,
  registerProvider,
  ringsFor,
  type UhwCall,
  type UhwExchange,
  uhwFor,
} from './provider.js';
export { rxeProvider, siwProvider };
