import { z } from 'zod';

// Identifier patterns shared by runbook inputs and activities. They are deliberately narrow:
// a value that passes one of these can still never reach a shell unquoted (see activities/ssh/command.ts).

export const hostNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a host name: lower-case letters, digits and dashes');
export const absolutePathSchema = z
  .string()
  .regex(/^\/[A-Za-z0-9._/@:+-]*$/, 'an absolute path of letters, digits and ._/@:+-')
  .refine((p) => !p.split('/').includes('..'), 'a path without ".."');
export const devicePathSchema = z.string().regex(/^\/dev\/[A-Za-z0-9._/-]+$/, 'a device path under /dev');
export const lvmNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/, 'an LVM name')
  .refine((n) => n !== '.' && n !== '..', 'an LVM name');
export const zfsDatasetSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*(\/[A-Za-z0-9_.:-]+)*$/, 'a ZFS dataset name');
export const uuidSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a lower-case UUID');
export const stepNameSchema = z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,63}$/, 'a step name');
