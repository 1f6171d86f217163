/**
 * The session's dispatch table, colyseus `onMessage` style: one handler per client message type,
 * one file per handler. The session decodes and schema-checks a frame, enforces the handshake
 * (nothing but `hello` before `welcome`), then calls `handlers[message.t]`; a type with no entry
 * here (`welcome`, `frame`, … — what nodes send) closes the session as BAD_MESSAGE.
 *
 * To add a request kind (WebRTC signalling, a trust handshake …):
 *   1. add its message schema to `protocol/messages.ts` (the wire contract lives there);
 *   2. write `handlers/<kind>.ts` exporting `const <kind>: Handler<'<kind>'>`, using only what
 *      `HandlerContext` offers: answer through `ctx.answer`/`ctx.answerError`, bound async work
 *      with `ctx.admit` + `ctx.answerLater`;
 *   3. register it below. Per-session state that outlives one message belongs in a child of the
 *      session (see session/), created and closed by Session.ts.
 */
import { bye } from './bye.js';
import type { HandlerTable } from './context.js';
import { hello } from './hello.js';
import { infer } from './infer.js';
import { ping } from './ping.js';
import { pose } from './pose.js';
import { predict } from './predict.js';
import { render } from './render.js';
import { rtcConnect, rtcConsumeData, rtcConsumeVideo, rtcOpen, rtcProduceData } from './rtc.js';
import { scene } from './scene.js';

export const handlers: HandlerTable = { hello, ping, pose, predict, infer, render, scene, bye, rtcOpen, rtcConnect, rtcProduceData, rtcConsumeData, rtcConsumeVideo };

export type { Handler, HandlerContext, HandlerTable, NodeContext } from './context.js';
