// @peculiar/x509 behind the Reflect polyfill it requires: its DI container (tsyringe) throws at
// load without Reflect.getMetadata. Import x509 from here, never directly. Side effect: the
// polyfill installs Reflect metadata functions on the global Reflect object (once, idempotent).
import 'reflect-metadata';

export * from '@peculiar/x509';
