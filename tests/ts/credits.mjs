// Credits through the official Leonardo TypeScript SDK (zod validates every response): pricingCalculator for every
// service, getUserSelf's balances, and a generation whose apiCreditCost / cost are what the calculator said.
// Environment: SERVER_URL, API_KEY, POLL_TIMEOUT_S, EXPECTED_PRICES (JSON: service -> [params, cost]),
// EXPECTED_SUBSCRIPTION, EXPECTED_PAID (the user's balance before the generation). Exits 1 on the first failure.

import { check, finished, run, sdk } from "./motion-support.mjs";

// The TS SDK names each service's block in camelCase; the wire keys are UPPER_CASE.
const camel = (service) => service.toLowerCase().replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

async function main(step) {
  const expected = JSON.parse(process.env.EXPECTED_PRICES);
  for (const [service, [params, cost]] of Object.entries(expected)) {
    step(`pricingCalculator ${service}`);
    const res = await sdk.pricingCalculator.pricingCalculator({ service, serviceParams: { [camel(service)]: params } });
    const got = res.object.calculateProductionApiServiceCost.cost;
    check(got === cost, `${service} costs ${cost}`, got);
  }
  console.log(`ok   pricingCalculator: ${Object.keys(expected).length} services`);

  step("getUserSelf");
  const me = (await sdk.user.getUserSelf()).object.userDetails[0];
  check(me.apiSubscriptionTokens === Number(process.env.EXPECTED_SUBSCRIPTION), "apiSubscriptionTokens", me);
  check(me.apiPaidTokens === Number(process.env.EXPECTED_PAID), "apiPaidTokens", me);
  check(typeof me.apiPlanTokenRenewalDate === "string", "apiPlanTokenRenewalDate", me);

  step("createGeneration");
  const body = { prompt: "a red circle", width: 512, height: 512, numImages: 1, numInferenceSteps: 20 };
  const quoted = await sdk.pricingCalculator.pricingCalculator({
    service: "IMAGE_GENERATION",
    serviceParams: {
      imageGeneration: { imageWidth: 512, imageHeight: 512, numImages: 1, inferenceSteps: 20, alchemyMode: true },
    },
  });
  const job = (await sdk.image.createGeneration(body)).object.sdGenerationJob;
  const cost = quoted.object.calculateProductionApiServiceCost.cost;
  check(job.apiCreditCost === cost && job.cost.amount === String(cost) && job.cost.unit === "CREDITS", "charged", job);
  check((await finished(job.generationId)).status === "COMPLETE", "the generation completes");
  const after = (await sdk.user.getUserSelf()).object.userDetails[0];
  const before = Number(process.env.EXPECTED_SUBSCRIPTION) + Number(process.env.EXPECTED_PAID);
  check(after.apiSubscriptionTokens + after.apiPaidTokens === before - cost, "the balance went down by it", after);
  console.log(`ok   createGeneration charged ${cost}, as quoted`);
  console.log("PASS: TypeScript SDK credits");
}

run(main);
