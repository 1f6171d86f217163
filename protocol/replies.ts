/**
 * Reply pairing, part of the contract: which answer each request type gets. A client matches an
 * answer to its request by `id` and then checks the answer's type against this table; anything
 * else is a peer that broke the protocol.
 */
import type { MessageOf } from './messages.js';

/** Which answer each request type gets. */
export interface Replies {
  ping: 'pong';
  predict: 'prediction';
  infer: 'result';
  render: 'frame';
  scene: 'ack';
  rtcOpen: 'rtcTransport';
  rtcConnect: 'ack';
  rtcProduceData: 'ack';
  rtcConsumeData: 'rtcDataConsumer';
  rtcConsumeVideo: 'rtcVideo';
}
export const REPLIES: Readonly<Replies> = Object.freeze({ ping: 'pong', predict: 'prediction', infer: 'result', render: 'frame', scene: 'ack',
  rtcOpen: 'rtcTransport', rtcConnect: 'ack', rtcProduceData: 'ack', rtcConsumeData: 'rtcDataConsumer', rtcConsumeVideo: 'rtcVideo' });

export type RequestType = keyof Replies;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as its sender writes it; the connection adds the `id`. */
export type RequestBody<T extends RequestType> = DistributiveOmit<MessageOf<T>, 'id'>;
export type ReplyOf<T extends RequestType> = MessageOf<Replies[T]>;

/** True when `type` is a request type (a key of the pairing table). */
export function isRequestType(type: string): type is RequestType {
  return Object.hasOwn(REPLIES, type);
}

/** True when a message of type `reply` is the right answer to a `request`. */
export function answers(request: RequestType, reply: string): boolean {
  return REPLIES[request] === reply;
}
