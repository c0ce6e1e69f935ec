/**
 * Every struct layout, enum and #define the library declares, compiled
 * against real kernel uapi headers: the system's linux-libc-dev (6.1) and
 * Debian's 6.12 and 7.x packages, fetched through the private apt.
 */

import { describe, expect, it } from 'vitest';
import { type AnyLayout, nested, UAPI_RELEASES } from '../src/abi/layout.js';
import {
  ib_uverbs_create_cq_resp,
  ib_uverbs_query_port_resp,
  ib_uverbs_query_port_resp_ex,
} from '../src/abi/structs.js';
import { uapiHeaders } from '../src/vm/uapi-headers.js';
import { allEnums, allLayouts, cProgram, declarations, kernelSays, mismatches } from './support/conformance.js';

const progress = (line: string) => process.stderr.write(`${line}\n`);

describe.each(UAPI_RELEASES)('uapi %s headers', (release) => {
  it('agree with every declared size, offset, member size and value', { timeout: 300_000 }, () => {
    const headers = uapiHeaders(release, progress);
    const { expected, headers: files, statements } = declarations(release);
    const said = kernelSays(headers.includeDirs, cProgram(files, statements));
    process.stderr.write(
      `uapi ${release}: linux-libc-dev ${headers.version} (${headers.origin}): ${expected.size} numbers checked\n`,
    );
    expect(expected.size).toBeGreaterThan(1000);
    expect(mismatches(expected, said)).toEqual([]);
  });
});

describe('the conformance check itself', () => {
  it('catches a deliberately wrong offset in a scratch copy of a table', { timeout: 300_000 }, () => {
    const headers = uapiHeaders('6.1', progress);
    // The real table puts cqe at 4; the scratch copy moves it to 0.
    const real = ib_uverbs_create_cq_resp;
    expect(real.fields.cqe.offset).toBe(4);
    const shifted: AnyLayout = { ...real, fields: { ...real.fields, cqe: { ...real.fields.cqe, offset: 0 } } };
    const { expected, headers: files, statements } = declarations('6.1', [shifted], []);
    const found = mismatches(expected, kernelSays(headers.includeDirs, cProgram(files, statements)));
    expect(found).toEqual(['offsetof(struct ib_uverbs_create_cq_resp, cqe): tables say 0, headers say 4']);
  });

  it('does not declare a 6.12 field against 6.1 headers, and does against 6.12', () => {
    const on61 = declarations('6.1', [ib_uverbs_query_port_resp_ex], []).expected;
    const on612 = declarations('6.12', [ib_uverbs_query_port_resp_ex], []).expected;
    expect(on61.has('offsetof(struct ib_uverbs_query_port_resp_ex, active_speed_ex)')).toBe(false);
    expect(on612.get('offsetof(struct ib_uverbs_query_port_resp_ex, active_speed_ex)')).toBe(44n);
  });

  it('covers every table the library exports', () => {
    expect(allLayouts().length).toBeGreaterThan(80);
    expect(allEnums().length).toBeGreaterThan(70);
    // a nested struct is proven both through its parent and on its own
    const names = allLayouts().map((l) => l.name);
    expect(names).toContain(ib_uverbs_query_port_resp.name);
    expect(nested(0, ib_uverbs_query_port_resp).size).toBe(40);
  });
});
