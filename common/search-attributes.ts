import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes registered on every environment namespace. */
export const SA = {
  organization: defineSearchAttributeKey('TavioOrganization', SearchAttributeType.KEYWORD),
  environment: defineSearchAttributeKey('TavioEnvironment', SearchAttributeType.KEYWORD),
  region: defineSearchAttributeKey('TavioRegion', SearchAttributeType.KEYWORD),
  integration: defineSearchAttributeKey('TavioIntegration', SearchAttributeType.KEYWORD),
} as const;
