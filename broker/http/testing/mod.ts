/**
 * Test doubles of the HTTP room: a recording service, a fake node status, request helpers.
 *
 * @module
 */
export * from "./helpers.ts";
export * from "./strict_prometheus.ts";
