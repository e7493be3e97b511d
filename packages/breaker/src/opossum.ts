/**
 * `@lifeline/breaker/opossum`: an existing opossum breaker behind Lifeline's `Breaker` seam.
 * A separate entry point so that opossum, an optional peer dependency, concerns only those
 * who import it (the adapter itself never loads opossum: it is handed a breaker).
 */
export { fromOpossum, OpossumBreaker, type OpossumCircuit } from './opossum-breaker.ts';
